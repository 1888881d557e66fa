--- Options of the socratic plugin.
---
--- In: the table given to `require('socratic').setup()`. Out: the merged options and the
--- command line that starts the language server (`socratic [--home DIR] lsp [--standalone]`).
--- Pure: no editor state is read or changed here.

local M = {}

---@class socratic.Options
---@field cmd string[]|nil  the whole server command line (overrides binary / home / standalone)
---@field binary string     the socratic executable (a name on $PATH or a path)
---@field home string|nil   the socratic home (`--home`); nil: $SOCRATIC_HOME, else the XDG data folder
---@field standalone boolean serve in the editor's own server process instead of the shared daemon
---@field filetypes string[] buffers that start the client
---@field root_markers string[] what marks a repository root
---@field record_terminal boolean record `:!` and `:terminal` commands during an attempt
---@field open_quickfix boolean open the quickfix window after :SocraticTasks
---@field diagnostics { show: string, per_function: integer } which tasks show as diagnostics:
---       `curriculum` (kept by a round or accepted), `scored` or `all`; at most `per_function` per
---       function (0: no limit)
M.defaults = {
  cmd = nil,
  binary = 'socratic',
  home = nil,
  standalone = false,
  filetypes = { 'python' },
  root_markers = { '.git' },
  record_terminal = true,
  open_quickfix = true,
  diagnostics = { show = 'curriculum', per_function = 2 },
}

--- The defaults overlaid with `opts` (unknown keys are an error, so typos show).
---@param opts table|nil
---@return socratic.Options
function M.merge(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if M.defaults[k] == nil and k ~= 'cmd' and k ~= 'home' then
      error(('socratic.setup: unknown option %q'):format(k), 0)
    end
  end
  local merged = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  local types = {
    binary = 'string', home = 'string?', cmd = 'table?', standalone = 'boolean', filetypes = 'table',
    root_markers = 'table', record_terminal = 'boolean', open_quickfix = 'boolean', diagnostics = 'table',
  }
  for key, want in pairs(types) do
    local optional = want:sub(-1) == '?'
    local t = optional and want:sub(1, -2) or want
    local v = merged[key]
    if not (type(v) == t or (optional and v == nil)) then
      error(('socratic.setup: option %q must be a %s, got %s'):format(key, t, type(v)), 0)
    end
  end
  local d = merged.diagnostics
  if not vim.tbl_contains({ 'curriculum', 'scored', 'all' }, d.show) then
    error(('socratic.setup: diagnostics.show must be "curriculum", "scored" or "all", got %q'):format(tostring(d.show)), 0)
  end
  if type(d.per_function) ~= 'number' or d.per_function < 0 then
    error('socratic.setup: diagnostics.per_function must be a number >= 0', 0)
  end
  return merged
end

--- The server's `initializationOptions`.
---@param opts socratic.Options
function M.init_options(opts)
  return { diagnostics = { show = opts.diagnostics.show, perFunction = opts.diagnostics.per_function } }
end

--- The executable `binary` names: itself when it is a path or on $PATH, else
--- `~/.cargo/bin/<binary>` when that exists; nil when none is executable.
---@param binary string
---@return string|nil
function M.find_binary(binary)
  if vim.fn.executable(binary) == 1 then
    return vim.fn.exepath(binary) ~= '' and vim.fn.exepath(binary) or binary
  end
  if not binary:find('/', 1, true) then
    local cargo = vim.fs.joinpath(vim.env.CARGO_HOME or vim.fs.joinpath(vim.env.HOME or '', '.cargo'), 'bin', binary)
    if vim.fn.executable(cargo) == 1 then return cargo end
  end
  return nil
end

--- The arguments that come before a subcommand: `{binary, '--home', home}`.
---@param opts socratic.Options
---@return string[]
function M.base_cmd(opts)
  local cmd = { M.find_binary(opts.binary) or opts.binary }
  if opts.home then
    vim.list_extend(cmd, { '--home', vim.fs.normalize(opts.home) })
  end
  return cmd
end

--- The command line of the language server.
---@param opts socratic.Options
---@return string[]
function M.server_cmd(opts)
  if opts.cmd then return vim.deepcopy(opts.cmd) end
  local cmd = M.base_cmd(opts)
  table.insert(cmd, 'lsp')
  if opts.standalone then table.insert(cmd, '--standalone') end
  return cmd
end

return M
