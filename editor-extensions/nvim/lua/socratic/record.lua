--- Terminal commands run during an attempt, recorded in its trace.
---
--- In: what Neovim reports about shell commands: the command line typed before `:!cmd` (with
--- `v:shell_error` after it, at ShellCmdPost), `:terminal {cmd}` jobs (their `term://` buffer
--- name and exit status at TermClose), and shells in `:terminal` that mark their prompts with
--- OSC 133 (`A` prompt, `B` input, `C` executed, `D;code` finished) and optionally OSC 633 `E`
--- (the command line). Out: `socratic/recordEvent` notifications
--- `{kind = "command", command, exitCode}` to the client that holds the attempt; nothing when no
--- attempt runs. The parsers are pure functions.

local client = require('socratic.client')
local protocol = require('socratic.protocol')

local M = {}

--- The shell command of an Ex command line that ran one (`!cmd`, `:r !cmd`, `:w !cmd`,
--- `:make`, `:grep`), or nil. Pure.
---@param cmdline string|nil
---@return string|nil
function M.shell_command(cmdline)
  if type(cmdline) ~= 'string' then return nil end
  local line = vim.trim(cmdline):gsub('^:+', '')
  line = vim.trim(line)
  -- `:!cmd` (no range: a range makes it a filter, which ShellFilterPost reports)
  local bang = line:match('^!(.*)$')
  if bang then
    bang = vim.trim(bang)
    return bang ~= '' and bang or nil
  end
  -- `:r[ead] !cmd`, `:w[rite] !cmd`
  local rw = line:match('^r%a*%s*!(.*)$') or line:match('^w%a*%s*!(.*)$')
  if rw and vim.trim(rw) ~= '' then return vim.trim(rw) end
  -- `:make args`, `:grep args`, with their programs
  local make_args = line:match('^mak?e?!?%s*(.*)$')
  if make_args and line:match('^mak') then
    return vim.trim(vim.o.makeprg .. ' ' .. make_args)
  end
  local grep_args = line:match('^gr?e?p?!?%s+(.*)$')
  if grep_args and line:match('^gr') then
    return vim.trim(vim.o.grepprg .. ' ' .. grep_args)
  end
  return nil
end

--- The command of a terminal buffer named `term://{cwd}//{pid}:{cmd}`, or nil. Pure.
---@param bufname string
---@return string|nil
function M.term_command(bufname)
  local cmd = bufname:match('^term://.-//%d+:(.*)$')
  if cmd and cmd ~= '' then return cmd end
  return nil
end

--- Whether a terminal command is an interactive shell (its first word is `shell`'s, or a
--- common shell), so its own exit is no command worth recording. Pure.
---@param cmd string
---@param shell string|nil
function M.is_shell(cmd, shell)
  local first = vim.fs.basename((cmd:match('^%s*(%S+)') or ''))
  local own = shell and vim.fs.basename((shell:match('^%s*(%S+)') or '')) or ''
  local shells = { sh = true, bash = true, zsh = true, fish = true, dash = true, ksh = true, nu = true, pwsh = true, tcsh = true, csh = true }
  local runs_a_command = cmd:match('%s%-%a*c%s') ~= nil
  return ((first == own and own ~= '') or shells[first] == true) and not runs_a_command
end

--- Decode the command line carried by OSC 633 `E` (`\\` and `\xHH` escapes). Pure.
local function unescape_633(s)
  s = s:gsub('\\x(%x%x)', function(h) return string.char(tonumber(h, 16)) end)
  return (s:gsub('\\\\', '\\'))
end

--- One shell-integration sequence: `{mark = 'A'|'B'|'C'|'D'|'E', code?, command?}`, or nil
--- for any other sequence. Accepts the text with or without its ESC ] prefix. Pure.
---@param seq string
function M.parse_osc(seq)
  if type(seq) ~= 'string' then return nil end
  local body = seq:gsub('^\27%]', ''):gsub('\27\\$', ''):gsub('\7$', '')
  local code, rest = body:match('^(%d%d%d);(.*)$')
  if code ~= '133' and code ~= '633' then return nil end
  local mark, args = rest:match('^(%a);?(.*)$')
  if not mark then return nil end
  if mark == 'D' then
    local n = tonumber((args:match('^(%-?%d+)')))
    return { mark = 'D', code = n }
  elseif mark == 'E' then
    local line = args:match('^([^;]*)')
    return { mark = 'E', command = line and unescape_633(line) or nil }
  elseif mark == 'A' or mark == 'B' or mark == 'C' then
    return { mark = mark }
  end
  return nil
end

--- The text of `bufnr` from `from` to `to` ({1-based row, 0-based col}), trimmed, lines
--- joined: the command a user typed between the end of the prompt and its execution.
function M.text_between(bufnr, from, to)
  if not (from and to) then return nil end
  local last = math.max(from[1], to[1] - 1)
  local ok, lines = pcall(vim.api.nvim_buf_get_lines, bufnr, from[1] - 1, last, false)
  if not ok or #lines == 0 then return nil end
  lines[1] = lines[1]:sub(from[2] + 1)
  if to[1] == from[1] then lines[1] = lines[1]:sub(1, math.max(0, to[2] - from[2])) end
  local text = vim.trim(table.concat(lines, ' '))
  return text ~= '' and text or nil
end

--- Send one command event when an attempt runs. Returns whether it was sent.
---@param command string
---@param exit_code integer|nil
function M.send(command, exit_code)
  local attempt = client.state.attempt
  if not attempt or not command or command == '' then return false end
  local c = vim.lsp.get_client_by_id(attempt.client)
  if not c then return false end
  return client.notify(protocol.RECORD_EVENT, { kind = 'command', command = command, exitCode = exit_code }, c) ~= false
end

--- Per terminal buffer: { cmd, shell, integrated, prompt_end, executed, command }.
local terms = {}
--- The last `:` command line left with <CR>.
local last_cmdline

local group = vim.api.nvim_create_augroup('socratic_record', { clear = true })

local function on_term_request(args)
  local data = args.data
  local seq = type(data) == 'table' and data.sequence or data
  local cursor = type(data) == 'table' and data.cursor or nil
  local osc = M.parse_osc(seq)
  if not osc then return end
  local t = terms[args.buf] or {}
  terms[args.buf] = t
  t.integrated = true
  if osc.mark == 'A' then
    t.prompt_end, t.executed, t.command = nil, nil, nil
  elseif osc.mark == 'B' then
    t.prompt_end = cursor
  elseif osc.mark == 'C' then
    t.executed = cursor
  elseif osc.mark == 'E' then
    t.command = osc.command
  elseif osc.mark == 'D' then
    local command, from, to, buf = t.command, t.prompt_end, t.executed or cursor, args.buf
    t.prompt_end, t.executed, t.command = nil, nil, nil
    if not (command or from) then return end
    -- the terminal buffer is refreshed a moment after the bytes arrive
    vim.defer_fn(function()
      M.send(command or M.text_between(buf, from, to), osc.code)
    end, 50)
  end
end

--- Install the autocommands (idempotent).
function M.enable()
  vim.api.nvim_clear_autocmds({ group = group })
  vim.api.nvim_create_autocmd('CmdlineLeave', {
    group = group,
    pattern = ':',
    callback = function()
      local aborted = vim.v.event and vim.v.event.abort
      last_cmdline = (not aborted) and vim.fn.getcmdline() or nil
    end,
  })
  vim.api.nvim_create_autocmd('ShellCmdPost', {
    group = group,
    callback = function()
      -- only a command line typed for this shell command names it; one run from Lua or a
      -- <Cmd> mapping leaves nothing to read, and is not recorded
      local command = M.shell_command(last_cmdline)
      last_cmdline = nil
      if command then M.send(command, vim.v.shell_error) end
    end,
  })
  vim.api.nvim_create_autocmd('TermOpen', {
    group = group,
    callback = function(args)
      local cmd = M.term_command(vim.api.nvim_buf_get_name(args.buf))
      terms[args.buf] = vim.tbl_extend('force', terms[args.buf] or {}, { cmd = cmd, shell = cmd and M.is_shell(cmd, vim.o.shell) })
    end,
  })
  vim.api.nvim_create_autocmd('TermRequest', { group = group, callback = on_term_request })
  vim.api.nvim_create_autocmd('TermClose', {
    group = group,
    callback = function(args)
      local t = terms[args.buf] or {}
      terms[args.buf] = nil
      local cmd = t.cmd or M.term_command(vim.api.nvim_buf_get_name(args.buf))
      if cmd and not t.integrated and not (t.shell or M.is_shell(cmd, vim.o.shell)) then
        M.send(cmd, vim.v.event and vim.v.event.status)
      end
    end,
  })
end

function M.disable()
  vim.api.nvim_clear_autocmds({ group = group })
end

return M
