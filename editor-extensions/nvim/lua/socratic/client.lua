--- The socratic language client: starting it and talking to it.
---
--- In: the merged options (`socratic.config`), buffers, executeCommand names and arguments.
--- Out: a client attached to Python buffers of a repository (`vim.lsp.config` / `vim.lsp.enable`
--- on Neovim 0.11, `vim.lsp.start` from a FileType autocommand on 0.10), `workspace/executeCommand`
--- requests with their results handed to a callback, and notifications (`socratic/recordEvent`).

local config = require('socratic.config')

local M = {}

M.name = 'socratic'

--- Plugin state shared by the modules.
M.state = {
  ---@type socratic.Options|nil
  opts = nil,
  --- the attempt this editor started: { attempt = attempt id, task = task id, client = client id,
  --- root = the checkout's folder, file = the task's file there }
  attempt = nil,
  --- the last finished attempt's verdict (`socratic.finishAttempt`'s result)
  last_verdict = nil,
  --- the last task list the server returned (for completion)
  tasks = {},
  --- the trace id of the last finished attempt
  last_trace = nil,
}

local has_011 = vim.fn.has('nvim-0.11') == 1

--- Call a client method on 0.10 (`client.request(...)`) and 0.11 (`client:request(...)`).
local function call(client, method, ...)
  if has_011 then return client[method](client, ...) end
  return client[method](...)
end

--- The socratic clients attached to `bufnr` (or any when none is).
---@param bufnr integer|nil
---@return vim.lsp.Client[]
function M.clients(bufnr)
  local attached = vim.lsp.get_clients({ name = M.name, bufnr = bufnr or vim.api.nvim_get_current_buf() })
  if #attached > 0 then return attached end
  return vim.lsp.get_clients({ name = M.name })
end

--- The client of the current buffer (or any socratic client), or nil with a warning.
---@return vim.lsp.Client|nil
function M.client(bufnr)
  local c = M.clients(bufnr)[1]
  if not c then
    vim.notify('socratic: no language client is running (open a Python file of a git repository)', vim.log.levels.WARN)
  end
  return c
end

--- The root of the repository holding `bufnr`, or nil.
function M.root(bufnr, markers)
  return vim.fs.root(bufnr, markers)
end

--- Whether `bufnr`'s file lies in the running attempt's checkout (such buffers are attached to
--- the client that started the attempt, never to a client of their own).
function M.in_attempt(bufnr)
  local a = M.state.attempt
  if not (a and a.root) then return false end
  local name = vim.api.nvim_buf_get_name(bufnr)
  return name ~= '' and vim.startswith(vim.fs.normalize(name), vim.fs.normalize(a.root) .. '/')
end

--- Attach `bufnr` to the client that started the attempt (once).
function M.attach_to_attempt(bufnr)
  local a = M.state.attempt
  local c = a and vim.lsp.get_client_by_id(a.client)
  if c and not vim.lsp.buf_is_attached(bufnr, c.id) then vim.lsp.buf_attach_client(bufnr, c.id) end
end

--- The client configuration handed to `vim.lsp.config` / `vim.lsp.start`.
---@param opts socratic.Options
function M.lsp_config(opts)
  return {
    name = M.name,
    cmd = config.server_cmd(opts),
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    -- only inside a repository: a buffer outside one gets no client
    root_dir = has_011 and function(bufnr, on_dir)
      if M.in_attempt(bufnr) then return end
      local root = M.root(bufnr, opts.root_markers)
      if root then on_dir(root) end
    end or nil,
  }
end

local augroup = vim.api.nvim_create_augroup('socratic_client', { clear = true })

--- Start (or reuse) the client for the buffers the options name.
---@param opts socratic.Options
function M.enable(opts)
  M.state.opts = opts
  vim.api.nvim_clear_autocmds({ group = augroup })
  -- a file of the attempt's checkout talks to the client that started the attempt
  vim.api.nvim_create_autocmd('FileType', {
    group = augroup,
    pattern = opts.filetypes,
    callback = function(args)
      if M.in_attempt(args.buf) then M.attach_to_attempt(args.buf) end
    end,
  })
  if has_011 and vim.lsp.config and vim.lsp.enable then
    vim.lsp.config(M.name, M.lsp_config(opts))
    vim.lsp.enable(M.name)
    return
  end
  local function start(bufnr)
    if not vim.tbl_contains(opts.filetypes, vim.bo[bufnr].filetype) or M.in_attempt(bufnr) then return end
    local root = M.root(bufnr, opts.root_markers)
    if not root then return end
    vim.lsp.start({ name = M.name, cmd = config.server_cmd(opts), root_dir = root }, { bufnr = bufnr })
  end
  vim.api.nvim_create_autocmd('FileType', {
    group = augroup,
    pattern = opts.filetypes,
    callback = function(args) start(args.buf) end,
  })
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) then start(b) end
  end
end

--- `workspace/executeCommand`; `on_result(err, result)` runs on the main loop.
---@param command string
---@param arguments any[]|nil
---@param on_result fun(err: table|nil, result: any)|nil
---@param client vim.lsp.Client|nil
function M.execute(command, arguments, on_result, client)
  client = client or M.client()
  if not client then
    if on_result then on_result({ message = 'no socratic client' }, nil) end
    return
  end
  local params = { command = command, arguments = arguments or {} }
  call(client, 'request', 'workspace/executeCommand', params, function(err, result)
    if on_result then
      on_result(err, result)
    elseif err then
      vim.notify(('socratic: %s failed: %s'):format(command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end)
end

--- A notification to `client` (default: the current buffer's).
function M.notify(method, params, client)
  client = client or M.clients()[1]
  if not client then return false end
  return call(client, 'notify', method, params)
end

return M
