// The API reference page: Swagger UI (npm swagger-ui-dist, served from /vendor/swagger-ui/) renders the document the
// API serves at /openapi.json; "Try it out" calls the API's /v1 paths with a token pasted under "Authorize".
import { API_URL } from "/config.js";

window.SwaggerUIBundle({
  url: `${API_URL}/openapi.json`,
  dom_id: "#docs",
  deepLinking: true,
  validatorUrl: null, // no badge from an outside validator (the CSP allows no other origin, and needs none)
  onComplete: () => {
    const operations = document.querySelectorAll(".opblock").length;
    document.body.dataset.result = JSON.stringify({ operations });
  },
});
