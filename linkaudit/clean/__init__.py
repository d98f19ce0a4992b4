"""clean: what a URL is once tracking is gone. ``rules`` loads the tracking rules (the
built-in data file, the config's additions, ClearURLs files); ``strip`` removes tracking
parameters at string level (``clean_url``); ``keys`` gives the keys two URLs are compared
by (``keys``, ``LinkCleaner``: the check key, the safe and aggressive duplicate keys).
"""
