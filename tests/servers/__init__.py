"""Real servers (S3, SFTP, SMB) started on 127.0.0.1 for the tests.

``fixtures`` holds the pytest fixtures, ``info`` the connection details they
return, ``_process`` the one mechanism that starts, probes and stops a server.
"""
