// Live job progress over the platform's WebSocket (docs/api.md, "Live progress"): pushes every change of the
// signed-in user's jobs; the job view polls only slowly while it is connected, and as before while it is not.
import * as api from "./api.js";

const RETRY_MS = 5000;

/** Follow all the user's jobs; onJob(job) gets each pushed state. Returns {connected(), close()}. */
export function followJobs(onJob) {
  let socket = null;
  let ready = false;
  let closed = false;
  let retry = null;
  const open = async () => {
    if (closed) return;
    try {
      const { url } = await api.websocket();
      if (!url || closed) return;
      const token = await api.bearerToken();
      socket = new WebSocket(url);
      socket.onopen = () => {
        socket.send(JSON.stringify({ action: "auth", token }));
        socket.send(JSON.stringify({ action: "subscribe", jobId: "*" }));
      };
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "subscribed") ready = true;
        else if (message.type === "job") onJob(message.job);
        else if (message.type === "error") socket.close();
      };
      socket.onclose = () => { ready = false; socket = null; if (!closed) retry = setTimeout(open, RETRY_MS); };
    } catch {
      if (!closed) retry = setTimeout(open, RETRY_MS);
    }
  };
  open();
  return {
    connected: () => ready,
    close: () => { closed = true; clearTimeout(retry); if (socket) socket.close(); },
  };
}
