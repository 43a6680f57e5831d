"""The contract shared by the API, both workers, the CLI and the tests: pure Python, no AWS imports.

keys: table and bucket key layout · statuses: lifecycles and kinds · formats: file formats and content types ·
params: parameter specs and their validation · jobtypes: job types, their stages, params and costs.
"""
