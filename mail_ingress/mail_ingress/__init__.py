"""The mail ingress: an SMTP listener for the coding assistant's address (an edge process
beside the GraphQL gateway, talking to the services over RPC)."""
