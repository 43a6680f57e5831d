// The HTTP client: JSON calls with bearer tokens, one shared token refresh on INVALID_TOKEN, and direct-to-S3 uploads.
import { API_URL } from "/config.js";

const REFRESH_KEY = "ai3d.refreshToken";
const API_BASE = API_URL + "/v1"; // the versioned paths (chalicelib/contract/api_version.py)

/** An API error carrying the HTTP status, the error code and the whole JSON body. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

let accessToken = null;
let refreshing = null; // one in-flight refresh shared by every caller (refresh tokens are single-use)
const signedOutListeners = [];

/** Register a callback for when the session ends (refresh failed or sign-out). */
export function onSignedOut(callback) {
  signedOutListeners.push(callback);
}

/** Whether a refresh token from this browser tab's session is available. */
export function hasSession() {
  return Boolean(accessToken || sessionStorage.getItem(REFRESH_KEY));
}

function storePair(data) {
  accessToken = data.accessToken;
  sessionStorage.setItem(REFRESH_KEY, data.refreshToken);
}

function clearSession() {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

async function send(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(API_BASE + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { raw: text }; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "HTTP_" + response.status,
      error.message || `request failed (${response.status})`, data);
  }
  return data;
}

/** Rotate the refresh token into a new pair; concurrent callers share one request. */
export function refresh() {
  if (!refreshing) {
    const token = sessionStorage.getItem(REFRESH_KEY);
    refreshing = (token ? send("POST", "/auth/refresh", { refreshToken: token }) : Promise.reject(
      new ApiError(401, "NO_SESSION", "please sign in", null)))
      .then(storePair)
      .catch((error) => {
        clearSession();
        signedOutListeners.forEach((callback) => callback());
        throw error;
      })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** An authenticated JSON call; on 401 INVALID_TOKEN it refreshes once and retries. */
export async function call(method, path, body) {
  if (!accessToken) await refresh();
  try {
    return await send(method, path, body, accessToken);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || error.code !== "INVALID_TOKEN") throw error;
    await refresh();
    return send(method, path, body, accessToken);
  }
}

/** The current access token (refreshed first if there is none yet), e.g. to authenticate a WebSocket. */
export async function bearerToken() {
  if (!accessToken) await refresh();
  return accessToken;
}

/** Where the platform serves live progress: {url} (null when it serves none); no sign-in needed. */
export function websocket() {
  return send("GET", "/websocket");
}

let jobTypesRequest = null; // one GET /job-types per page load (the contract does not change while the app runs)

/** The job types as the API describes them (inputs, params with bounds and defaults, costs); no sign-in needed. */
export function jobTypes() {
  if (!jobTypesRequest) {
    jobTypesRequest = send("GET", "/job-types").catch((error) => { jobTypesRequest = null; throw error; });
  }
  return jobTypesRequest;
}

/** Sign in with email and password; returns the user. */
export async function login(email, password) {
  const data = await send("POST", "/auth/login", { email, password });
  storePair(data);
  return data.user;
}

/** Create an account (signed in afterwards); returns the user. */
export async function register(email, password, name) {
  const data = await send("POST", "/auth/register", { email, password, name });
  storePair(data);
  return data.user;
}

/** Revoke this session on the server and forget the tokens. */
export async function logout() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  clearSession();
  if (token) await send("POST", "/auth/logout", { refreshToken: token }).catch(() => {});
}

/** POST a file to a presigned S3 form (fields first, `file` last), reporting progress as 0..1. */
export function uploadToS3(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", upload.url);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300
      ? resolve()
      : reject(new Error(`storage refused the upload (${xhr.status}): ${s3Message(xhr.responseText)}`)));
    xhr.onerror = () => reject(new Error("the upload failed (network error)"));
    xhr.send(form);
  });
}

function s3Message(xml) {
  const match = /<Message>([^<]*)<\/Message>/.exec(xml || "");
  return match ? match[1] : "unknown error";
}
