"""The rules document: what each kind of signal is judged against, and where alerts are routed.

Each family declares its config models, judges and kinds once (``volume``, ``lambda_dials``,
``data_dials``, ``edge_dials``, ``cost``, ``health``, ``self_watch``); ``document`` composes
the models into the one JSON document users write, ``kinds`` the registry ``judge()`` reads.
"""
