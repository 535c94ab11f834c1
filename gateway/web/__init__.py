"""The one HTTP edge: the aiohttp app, the auth middleware, every route and the pages."""
