"""Workers: the processes that claim attempts and run their graphs.

``drain`` is the loop a django-q2 delivery runs, ``execute`` runs one claimed
attempt to its next stop, ``heartbeats`` keeps the leases of running graphs. They
call services for every state change; services never import them.
"""
