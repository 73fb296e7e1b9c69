"""The web console: server-rendered pages and inline SVG charts, served by the API app."""
