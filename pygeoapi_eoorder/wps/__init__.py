"""WPS 1.0.0 and 2.0.2 at `/wps`: an adapter of the processes and the job engine that
OGC API - Processes serves (a job started here is the same job under /jobs)."""
