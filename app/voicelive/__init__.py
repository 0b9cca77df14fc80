"""The connection to Voice Live: websockets, authentication, the session object. No Textual here."""
