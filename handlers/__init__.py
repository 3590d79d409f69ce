"""Lambda handlers of DOFS and the service code they share.

Every module here ships in the handler archive; third-party imports are limited to
pydantic (from the layer) and boto3/botocore (from the Lambda runtime).
"""
