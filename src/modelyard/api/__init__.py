"""HTTP: the FastAPI app factory, auth dependencies, the admin REST routers."""
