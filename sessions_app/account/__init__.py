"""The signed-in person's own pages: signing in (throttled, `sessions_app.signin`) and the
list of their API sessions (`ss-id` tokens), each revocable; administrators see everyone's."""
