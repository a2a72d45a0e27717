//! POSIX AIO: aiocb, aio_read, aio_error, aio_return, aio_suspend, lio_listio, aio_cancel, SIGEV_THREAD.
