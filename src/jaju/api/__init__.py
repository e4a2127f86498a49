"""HTTP routers. `jaju.app.create_app` mounts them."""
