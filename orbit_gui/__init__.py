"""Orbit GUI: a desktop transfer client for S3, SFTP and SMB."""

__version__ = "0.1.0"
