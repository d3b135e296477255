"""Built-in plugins: ordinary plugin modules that orqo registers itself (see ``DEFAULT_PLUGINS``).

* ``waitbox``: hands a message to an agent waiting for that Contact's answer (``tryfirst``);
* ``app_events``: for Apps with Doorkeeper off, starts the matching App Event triggers' runs;
* ``doorkeeper``: the ``trylast`` fallback, appends the message to the Contact's conversation.
"""
