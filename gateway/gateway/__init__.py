"""The GraphQL gateway: Strawberry on Starlette, talking to the services over Nameko AMQP RPC."""
