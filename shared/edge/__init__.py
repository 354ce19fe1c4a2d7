"""The HTTP edge every service shares: problems and their language, request bodies,
cursors, authorization, spreadsheets and the API documentation.

A service's routes and use cases build their answers from these pieces only, so the
same mistake gets the same status, problem type and wording in every service.
"""
