"""The one declaration of the platform's AWS resources, and its local deployer."""
