"""The judgements: pure functions and values, data in and data out, no store and no I/O (but
reading a model's files: the language model, the sentence encoder, each kept in the cache folder).

``matching`` (keyword rules), ``text`` (HTML to plain text), ``language``, ``sentiment`` (VADER
sentence by sentence), ``assassin`` (the assassin call's cues), ``learned`` and ``training`` (its
learned layer), ``encoder``, ``encoder_graph`` and ``sentence`` (the sentence heads), ``reach``, ``authors`` (an author's
bucket from their history), ``spikes`` (the streaming detector), ``series`` (the series it
watches, and what a spike says), ``digest``. They import only ``monitor.models``,
``monitor.errors``, the config's value types and each other; an import-rule test keeps it so.
"""
