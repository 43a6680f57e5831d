"""The one declaration of the platform's AWS resources (template.yaml) and the Chalice config written from a deployed stack;
the local deployer is devstack/deploy.py."""
