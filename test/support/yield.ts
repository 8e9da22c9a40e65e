/**
 * A vitest setup file (vitest.config.ts): after each test, give the event loop a real turn.
 * vitest's worker gives up on its own RPC ("Timeout calling onTaskUpdate") when its event loop
 * has not turned for 60 s, and a run of synchronous tests (each a few seconds of spawnSync, as in
 * cli-errors' "bad input") never lets it turn: their times add up across tests. 10 ms of timer
 * wait lets the answer to the pending call arrive and be read.
 */
import { afterEach } from "vitest";

afterEach(() => new Promise<void>((resolve) => setTimeout(resolve, 10)));
