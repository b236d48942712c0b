"""The master: dispatch coded work, wait for the first decodable set, cancel the rest."""
