"""The console: server-rendered pages over the registry services for admins (everything)
and members (their own providers, keys, usage and credits), signed in through the sign-in
pages' session cookie. One module per area; :mod:`.routes` mounts them."""
