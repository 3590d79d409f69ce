"""Lambda handlers of DOFS and the service code they share.

Every module here ships in the handler archive; third-party imports are limited to
pydantic (from the layer) and boto3/botocore (from the Lambda runtime).
"""

import os

# When it builds its first model, pydantic reads the entry points of every installed
# distribution in search of plugins: part of every cold start, for plugins DOFS never uses.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
