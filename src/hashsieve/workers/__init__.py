"""Worker processes that hash: a local process pool (``executor``) whose forkserver imports
``preload`` once (hashing code warm, memory limit set), shared by the scan, the ``media`` hash-set
format and the ICAP service."""
