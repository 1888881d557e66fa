-- The shared part of the headless Neovim scripts (accept.lua, plugin.lua, attempt.lua): loaded
-- with `dofile`, it returns `env(name)` (an environment variable, nil when unset or empty) and
-- `new(report_path, poll_ms)`, which gives the script its `report` table (`steps`, `ok`,
-- `message`), `finish(ok, msg)` (writes the report when `report_path` is given, prints `OK msg` / `FAIL msg`,
-- stops the clients and exits 0 / 1) and `wait(what, ms, cond)` (polls `cond` every `poll_ms`;
-- a step that times out finishes with `FAIL what`, one that holds is recorded in `steps`).

local M = {}

function M.env(name)
  local v = os.getenv(name)
  return (v ~= nil and v ~= '') and v or nil
end

function M.new(report_path, poll_ms)
  local report = { steps = {} }
  local function finish(ok, msg)
    report.ok, report.message = ok, msg
    if report_path then
      local f = assert(io.open(report_path, 'w'))
      f:write(vim.json.encode(report))
      f:close()
    end
    io.stdout:write((ok and 'OK ' or 'FAIL ') .. msg .. '\n')
    io.stdout:flush()
    for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end
    vim.wait(500)
    os.exit(ok and 0 or 1)
  end
  local function wait(what, ms, cond)
    if not vim.wait(ms, cond, poll_ms) then finish(false, what) end
    table.insert(report.steps, what)
  end
  return report, finish, wait
end

return M
