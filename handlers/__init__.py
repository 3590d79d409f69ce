"""Lambda handlers of DOFS and the service code they share.

Every module here ships in the handler archive. The only third-party imports are
boto3/botocore, from the Lambda runtime: events, requests and messages are parsed by
hand (``handlers.parsing``), which keeps pydantic's import out of every cold start.
"""
