"""The JSON API's routes, one module per area; each adds its routes with `add_route`."""
