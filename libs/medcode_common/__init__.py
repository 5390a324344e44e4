"""Infrastructure shared by the services and the gateway: configuration, storage
engines, service launching and tracing. No domain logic lives here."""
