"""Where telephony providers call us back over HTTP: Twilio's status callbacks and its
incoming-call webhook (`twilio.py`). Each request is checked to come from the provider before
anything is read from it, then handed to the services as `ProviderReport`s (the inbox) or as an
incoming call."""
