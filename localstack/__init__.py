"""Running the platform locally: the embedded AWS emulator, the API server, the event-source runner and the stack supervisor."""
