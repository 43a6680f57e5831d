"""The HTTP API's contract: request and response models per route, their validation and the OpenAPI document."""
