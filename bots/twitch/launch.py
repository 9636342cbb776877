"""Run the Twitch adapter until it ends or the process stops."""

from __future__ import annotations

from literai_core.core import ChatCore

from ..config import Environment, LiteraiConfig
from ..reload import Reloader
from ..stop import Stop


async def launch(
    core: ChatCore, config: LiteraiConfig, env: Environment, stop: Stop, reloader: Reloader
) -> None:
    """Connect with the credentials from ``env``; credentials Twitch refuses stop the
    process with one line (never with their values)."""
    import twitchio

    from .client import LiteraiTwitch, TwitchSetupError, point_at

    t = config.twitch
    assert env.twitch is not None
    point_at(t.api_base_url, t.id_base_url, t.eventsub_url)
    failure = None
    client = LiteraiTwitch(core, t, env.twitch, overlay=config.web.enabled)
    reloader.appliers.append(lambda new: client.reconfigure(new.twitch))
    try:
        await client.start(with_adapter=False, load_tokens=False, save_tokens=False)
    except twitchio.InvalidTokenException:
        failure = f"twitch: the token in {t.token_env} was rejected and could not be refreshed"
    except twitchio.HTTPException as exc:
        if exc.status in (400, 401, 403):
            failure = (
                f"twitch: Twitch refused the credentials ({t.client_id_env}, "
                f"{t.client_secret_env}): {exc.status}"
            )
        else:
            failure = f"twitch: Twitch answered {exc.status} while starting"
    except TwitchSetupError as exc:
        failure = f"twitch: {exc}"
    finally:
        await client.close()
    if failure is not None:
        stop.set(1, failure)
