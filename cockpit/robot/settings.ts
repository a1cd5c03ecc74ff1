/**
 * The robot's part of the cockpit config (`robot:`), as checked by `cockpit/config.ts`.
 */

/** Who may use the robot and where it posts. */
export interface RobotSettings {
  /** The bot token (read from `robot.tokenFile`, mode 0600); a secret, redacted from every message and log. */
  token: string;
  /** Chat id of the build group (`-100...`): the robot posts there, and anyone writing there is a viewer. */
  chatId: number;
  /** Forum topic (`message_thread_id`) of the group for the robot's posts; unset = the general topic. */
  topicId?: number;
  /** Bot API root without trailing slash. Default `https://api.telegram.org`. */
  apiRoot: string;
  /** Telegram user ids of the operators: only they may start, approve or cancel runs. Default none. */
  operators: number[];
  /** Seconds one `getUpdates` long poll waits for updates (0-50). Default 30. */
  pollSeconds: number;
  /** Routine posts (successful runs) the robot sends to the group per rolling minute (1-20). Default 20. */
  maxMessagesPerMinute: number;
}
