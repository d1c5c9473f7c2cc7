/**
 * The single list of `cairn` commands, in the order `cairn --help` shows them. To add one,
 * write src/cli/commands/NAME.ts exporting a RegisterCommand and add one line here.
 */
import type { RegisterCommand } from "../command.js";
import { registerCache } from "./cache.js";
import { registerCheckout } from "./checkout.js";
import { registerDiff } from "./diff.js";
import { registerGc } from "./gc.js";
import { registerInit } from "./init.js";
import { registerLs } from "./ls.js";
import { registerPs } from "./ps.js";
import { registerPush } from "./push.js";
import { registerRm } from "./rm.js";
import { registerRpc } from "./rpc.js";
import { registerShow } from "./show.js";
import { registerUi } from "./ui.js";
import { registerVerify } from "./verify.js";

export const commands: RegisterCommand[] = [
  registerLs,
  registerPs,
  registerShow,
  registerDiff,
  registerUi,
  registerCheckout,
  registerRm,
  registerGc,
  registerInit,
  registerPush,
  registerVerify,
  registerCache,
  registerRpc,
];
