"""The ``campaign`` command line: run the services, the demo, and talk to the API."""
