/**
 * Who may do what through the robot. Telegram gives the sender's user id and the chat; the
 * cockpit config lists the operators' user ids (`robot.operators`). Anyone who can write in the
 * build group (`robot.chatId`) is a member of it, hence a viewer; operators may also talk to the
 * robot in a private chat. Everyone else is refused.
 */
import type { RunRequester } from "../runs/types";
import type { RobotSettings } from "./settings";

/** What a sender may do: read (`viewer`), also start/approve/cancel (`operator`), or nothing. */
export type RobotRole = "none" | "viewer" | "operator";

/** The role of user `userId` writing in chat `chatId`. */
export function robotRole(
  s: RobotSettings,
  chatId: number | undefined,
  userId: number | undefined,
): RobotRole {
  if (userId !== undefined && s.operators.includes(userId)) return "operator";
  if (chatId !== undefined && chatId === s.chatId) return "viewer";
  return "none";
}

/** The run requester for a Telegram user: `telegram:<id>` (plus `@username` when known), from the chat. */
export function robotRequester(
  user: { id: number; username?: string },
  chatId: number | undefined,
): RunRequester {
  return {
    user: `telegram:${user.id}${user.username ? `(@${user.username})` : ""}`,
    origin: "robot",
    from: chatId === undefined ? "" : `telegram-chat:${chatId}`,
  };
}
