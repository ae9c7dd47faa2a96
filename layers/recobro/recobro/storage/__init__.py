"""DynamoDB storage: PynamoDB models matching template.yaml's tables, and request counting."""
