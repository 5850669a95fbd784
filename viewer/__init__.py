"""DAISEE event viewer: indexes the community contracts' events into SQLite and serves them
(FastAPI JSON API, live SSE feed and a dashboard) with public, member and operator access layers."""
