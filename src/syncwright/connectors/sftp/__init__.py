"""SFTP destination: feed files uploaded to a server, confirmed by the endpoint."""
