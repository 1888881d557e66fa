--- `:checkhealth socratic`.
---
--- In: the options in effect. Out: a report on Neovim's version, the `socratic` binary (found,
--- `--version`), the daemon of the home (`socratic daemon status`), the language client, and the
--- Docker engine validation needs (`docker info`). Runs each program with a timeout; changes
--- nothing.

local M = {}

local h = vim.health
local ok, warn, err, info = h.ok or h.report_ok, h.warn or h.report_warn, h.error or h.report_error, h.info or h.report_info
local start = h.start or h.report_start

--- Run `cmd`; `{code, out}` (code nil when it could not start or timed out).
local function run(cmd, timeout_ms)
  local okp, proc = pcall(vim.system, cmd, { text = true })
  if not okp then return { code = nil, out = tostring(proc) } end
  local r = proc:wait(timeout_ms or 5000)
  local out = vim.trim((r.stdout or '') .. (r.stderr ~= '' and ('\n' .. (r.stderr or '')) or ''))
  if r.signal ~= nil and r.signal ~= 0 then return { code = nil, out = out ~= '' and out or 'timed out' } end
  return { code = r.code, out = out }
end

function M.check()
  local socratic = require('socratic')
  local config = require('socratic.config')
  local client = require('socratic.client')
  local opts = socratic.options()

  start('socratic: Neovim')
  if vim.fn.has('nvim-0.10') == 1 then
    ok(('Neovim %s'):format(tostring(vim.version())))
  else
    err('Neovim 0.10 or later is needed')
  end
  if client.state.opts then
    ok('setup() was called')
  else
    warn("setup() was not called: the client does not start", { "add require('socratic').setup({}) to your config" })
  end

  start('socratic: binary')
  local bin = opts.cmd and opts.cmd[1] or config.find_binary(opts.binary)
  if not bin or vim.fn.executable(bin) ~= 1 then
    err(('`%s` is not executable'):format(bin or opts.binary),
      { 'install it (cargo install --path daemon) or set `binary` in setup()' })
    return
  end
  local version = run({ bin, '--version' })
  if version.code == 0 then
    ok(('%s (%s)'):format(version.out, bin))
  else
    err(('`%s --version` failed: %s'):format(bin, version.out))
  end
  info('server command: ' .. table.concat(config.server_cmd(opts), ' '))

  start('socratic: daemon')
  if opts.standalone then
    info('standalone: each editor serves its own process; no daemon is used')
  else
    local status_cmd = config.base_cmd(opts)
    status_cmd[1] = bin
    vim.list_extend(status_cmd, { 'daemon', 'status' })
    local status = run(status_cmd)
    if status.code == 0 then
      ok('daemon: ' .. status.out)
    else
      warn('daemon: ' .. (status.out ~= '' and status.out or 'not running'),
        { '`socratic lsp` starts it when a Python buffer of a repository opens' })
    end
  end
  local clients = client.clients()
  if #clients > 0 then
    for _, c in ipairs(clients) do
      ok(('client %d attached, root %s'):format(c.id, c.config.root_dir or '?'))
    end
  else
    info('no socratic client is running now')
  end
  if client.state.attempt then
    info('attempt running at ' .. client.state.attempt.task)
  end

  start('socratic: Docker (validation)')
  if vim.fn.executable('docker') ~= 1 then
    warn('`docker` is not on $PATH', { 'validation (a round) needs a Docker engine' })
    return
  end
  local docker = run({ 'docker', 'info', '--format', '{{.ServerVersion}}' }, 10000)
  if docker.code == 0 then
    ok('Docker engine ' .. docker.out)
  else
    warn('`docker info` failed: ' .. (docker.out ~= '' and docker.out or 'no answer'),
      { 'validation (a round) needs a Docker engine: start it or set DOCKER_HOST' })
  end
end

return M
