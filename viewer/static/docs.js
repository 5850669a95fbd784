// Swagger UI on the viewer's own schema, from the vendored swagger-ui-dist (no CDN, no inline script).
"use strict";
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
