"""Demo records of three provinces, shaped on figures from real programme reports.

`plan` modules (`langson`, `hagiang`, `phutho`) hold the records as plain data and build
the activity bodies once the registry has given the ids of sites and clubs; `api` is a
small HTTP client; `deploy.demo_data.load_demo_data` puts it all through the public APIs.
"""
