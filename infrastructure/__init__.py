"""The one declaration of the platform's cloud resources (template.yaml, pipeline.asl.json) and the tools that make it
deployable: `synth` (chalice package merged with the declaration), `cfn` (templates as data); the local deployer is
devstack/deploy.py."""
