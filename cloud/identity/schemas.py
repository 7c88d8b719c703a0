"""Request and response bodies of sign-in."""

from __future__ import annotations

from pydantic import BaseModel, Field

from cloud.web.fields import PLAIN_TEXT


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=PLAIN_TEXT)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds")


class PersonOut(BaseModel):
    username: str
    role: str
    site_ids: list[str] = Field(description="the river monitoring sites granted to them")
