"""Sandboxes for user code: ``js`` (embedded QuickJS, in process) and ``python`` (a child process).

``js.evaluate`` is the one way the engine runs JavaScript: the JS code node and imported n8n
expressions. ``n8n`` holds the n8n-like globals (``$input``, ``$json``, ``$('Node')``…) both use.
"""
