"""Domain logic of the API Lambdas: accounts, projects, assets, jobs and credits on DynamoDB."""
